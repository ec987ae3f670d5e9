-- Free-text search over every stored alert (issue 26): a trigram full-text index (substrings of
-- three characters or more, any case) of each alert's name, instance, label values and
-- annotation values. Contentless (the text lives in `alerts`), rows deletable by id.
-- Filled off the intake path: a background indexer takes the alerts above `indexed_up_to` in
-- short batches, so storing a webhook does no indexing; the few alerts not indexed yet are
-- searched by a scan, bounded to them.
CREATE VIRTUAL TABLE alerts_search USING fts5(
    alertname, instance, labels, annotations,
    content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 0'
);

CREATE TABLE alert_search_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_up_to  INTEGER NOT NULL
);
INSERT INTO alert_search_state (id, indexed_up_to) VALUES (1, 0);

-- An indexed alert whose annotations change on a later delivery is indexed again (labels never
-- change: they make the fingerprint). Compared first, so a redelivery with the same text costs
-- one comparison.
CREATE TRIGGER alerts_search_reindex AFTER UPDATE OF annotations ON alerts
WHEN old.annotations IS NOT new.annotations
 AND new.id <= (SELECT indexed_up_to FROM alert_search_state WHERE id = 1)
BEGIN
    DELETE FROM alerts_search WHERE rowid = new.id;
    INSERT INTO alerts_search (rowid, alertname, instance, labels, annotations) VALUES (
        new.id, new.alertname, coalesce(new.instance, ''),
        (SELECT group_concat(value, char(10)) FROM json_each(new.labels)),
        (SELECT group_concat(value, char(10)) FROM json_each(new.annotations)));
END;

-- Pruned alerts leave the index with them.
CREATE TRIGGER alerts_search_prune AFTER DELETE ON alerts
BEGIN
    DELETE FROM alerts_search WHERE rowid = old.id;
END;
