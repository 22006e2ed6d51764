-- Jira issue keys a pull request names (in its title, branch or commit messages), found
-- when it is loaded: work items and pull requests are linked by key without asking Jira's
-- development panel about every issue.
ALTER TABLE prs ADD COLUMN issue_keys TEXT[] NOT NULL DEFAULT '{}';
CREATE INDEX prs_issue_keys_idx ON prs USING GIN (issue_keys);
