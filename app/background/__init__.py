"""Background work around the tasks: who owns a job, heartbeats, the reaper, the outbox.

Training runs and import jobs are rows that workers claim. A claim records its owner;
the owner writes a heartbeat from a thread; a timer in every worker ends jobs whose
heartbeat stopped and sends again the queued work whose message was lost.
"""
