"""HTTP routes: each translates HTTP to a service call and back, nothing more."""
