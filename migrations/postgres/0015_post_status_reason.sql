-- Why a post is where it is, in a word (api.md: `rejected`, `approval_expired`), or NULL.
ALTER TABLE posts ADD COLUMN status_reason text;
