-- The rule set a decision was made under (the first 12 hex digits of the SHA-256 of the rules
-- as loaded): after a config change, which rules decided what. Older decisions have none.
ALTER TABLE decisions ADD COLUMN rules_hash TEXT;
