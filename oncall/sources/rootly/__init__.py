"""rootly."""
