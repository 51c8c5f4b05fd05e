-- Who last changed a post's content and who submitted it for review: where approval is
-- required, neither may also sign it off (nor may its author).
ALTER TABLE posts ADD COLUMN edited_by BLOB REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE posts ADD COLUMN submitted_by BLOB REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX posts_edited_by_idx ON posts (edited_by);
CREATE INDEX posts_submitted_by_idx ON posts (submitted_by);
