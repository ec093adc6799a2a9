"""One router per resource: denoise, corrupt, models, health, metrics, demo page."""
