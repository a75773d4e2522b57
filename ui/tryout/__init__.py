"""Per-family "try the model" views: ``ui/tryout/<family>.py`` defines ``render_try(model)``
for a registered model version and ``render_results(run)`` for a finished run."""
