"""Images: Glance v2 subset."""
