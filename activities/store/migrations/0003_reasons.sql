-- Every state says why: the reason (and next action) of a wave's and a minor wave's
-- current state, for `crest wave list` and `crest wave status`; and a build's last
-- infrastructure error while it is retried (`libcore building attempt 4: nix-store …`).
ALTER TABLE waves ADD COLUMN reason text NOT NULL DEFAULT '';
ALTER TABLE minor_waves ADD COLUMN reason text NOT NULL DEFAULT '';
ALTER TABLE package_results ADD COLUMN last_error text NOT NULL DEFAULT '';
