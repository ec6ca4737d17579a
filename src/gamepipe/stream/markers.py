"""The marks the stream leaves in each append's Iceberg snapshot summary: which query and
which micro-batch it came from. The stream reads them back to skip a table a re-run
batch already reached (stream/job.py); table care never expires the newest of them
(stream/maintain.py)."""

QUERY_ID = "gamepipe.query-id"
BATCH_ID = "gamepipe.batch-id"
