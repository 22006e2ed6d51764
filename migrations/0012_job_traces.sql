-- The trace (W3C traceparent) of the request that last made a job due, e.g. an API
-- trigger: the job's next run joins it, so a trace follows API → scheduler → queue → worker.
ALTER TABLE etl_jobs ADD COLUMN traceparent TEXT;
