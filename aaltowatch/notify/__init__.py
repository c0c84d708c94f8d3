"""Push notifications for watches through Apprise: message text, and exactly-once delivery."""
