-- Every process holds an index of which keys exist, so that a verify of a key
-- that does not exist needs no read. A key created elsewhere (another
-- `serve`, another node) reaches that index through the change log (0003).
--
-- kind        entity
-- key         the key's hash (hex): now also when the key is created
CREATE TRIGGER keys_created AFTER INSERT ON keys
BEGIN
    INSERT INTO changes (kind, entity) VALUES ('key', hex(NEW.hash));
END;
