-- Merchandising keys are byte strings: the ads ledger joins the parts of
-- a key with a 0x00 byte (request id, 0x00, item; day, 0x00, user, 0x00,
-- campaign), which a text column cannot hold. bytea compares bytewise, so
-- prefix scans and their order are those of the embedded store.
ALTER TABLE merch ALTER COLUMN key TYPE bytea USING convert_to(key, 'UTF8');
