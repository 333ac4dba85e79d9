-- Apis are cached: see the SQLite migration 0007.
CREATE FUNCTION apis_deleted() RETURNS TRIGGER AS $$
BEGIN
    PERFORM keyward_notify('api', NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER apis_deleted AFTER UPDATE OF deleted_at ON apis
    FOR EACH ROW EXECUTE FUNCTION apis_deleted();
