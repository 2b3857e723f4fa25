"""Apify Schedules (``/v2/schedules``), managed beside the tasks with the same guarantees.

The task pipeline's stages each get a schedule counterpart here, reusing the task values where
the shape is the same (a schedule's planned change is a ``TaskChange``, its outcome a
``TaskResult``, so sealing, redaction and the renderers serve both):

    model.py     ScheduleSpec and ActionSpec: what the file's ``schedules:`` entries say
    diff.py      pure: (ScheduleSpec, live schedule, task and Actor IDs) -> TaskChange
    refresh.py   read the live schedules and resolve the actions' references, for the plan
    apply.py     send the schedule changes after the tasks, task references resolved to IDs
    export.py    the account's schedules as ``schedules:`` entries
"""
