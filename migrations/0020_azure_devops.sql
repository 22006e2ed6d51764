-- Azure DevOps joins Jira and GitHub as a source an integration may read.
ALTER TABLE integrations DROP CONSTRAINT integrations_provider_check;
ALTER TABLE integrations ADD CONSTRAINT integrations_provider_check
    CHECK (provider IN ('jira', 'github', 'azure_devops'));
ALTER TABLE etl_jobs DROP CONSTRAINT etl_jobs_job_type_check;
ALTER TABLE etl_jobs ADD CONSTRAINT etl_jobs_job_type_check
    CHECK (job_type IN ('jira', 'github', 'azure_devops'));
