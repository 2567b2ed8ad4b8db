"""Publishing a release: pure planning here, the uploads in :mod:`builder.effects.publishers`.

:mod:`builder.publish.plan` turns a cell's files and what a target already holds into an
:class:`~builder.publish.plan.UploadPlan` (each file new, changed or unchanged) before any
upload, :mod:`builder.publish.card` checks the model card, and :mod:`builder.publish.run`
carries the plans out, one cell and target at a time.
"""
