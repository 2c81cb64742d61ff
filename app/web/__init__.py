"""Static files served to browsers: the event tracker and its demo page."""
