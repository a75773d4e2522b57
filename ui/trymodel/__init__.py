"""Try Model views. ``ui/trymodel/<family>.py`` defines ``render_try_model()``; the Try Model
page offers every family that has one."""
