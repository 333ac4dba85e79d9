-- Apis are cached too (createKey and migrations look their api up on every
-- call): a deletion reaches every process through the change log (0003).
--
-- kind        entity
-- api         the api id: it was deleted
CREATE TRIGGER apis_deleted AFTER UPDATE OF deleted_at ON apis
BEGIN
    INSERT INTO changes (kind, entity) VALUES ('api', NEW.id);
END;
