-- The key index: see the SQLite migration 0008.
CREATE FUNCTION keys_created() RETURNS TRIGGER AS $$
BEGIN
    PERFORM keyward_notify('key', upper(encode(NEW.hash, 'hex')));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER keys_created AFTER INSERT ON keys
    FOR EACH ROW EXECUTE FUNCTION keys_created();
