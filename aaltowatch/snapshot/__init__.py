"""The bundled offline copy of www.aalto.fi (data only; a package so setuptools ships it)."""
