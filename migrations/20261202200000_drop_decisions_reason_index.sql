-- `decisions_reason (reason, id)` is read by no query: decisions are looked up by alert
-- (`decisions_alert`) and by run (`decisions_run`), never by reason. Under a webhook storm the
-- inbox writer stores a decision per alert, so it was a B-tree insert per alert in the single
-- writer's commit that nothing used.
DROP INDEX decisions_reason;
