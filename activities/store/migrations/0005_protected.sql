-- Protected packages (in the build closure of a protected root, as the wave's policy names
-- them) are written when a round is laid out, so that policy can refuse to settle them
-- implicitly: a protected dependent of a given-up root cause waits for a person.
ALTER TABLE package_results ADD COLUMN protected boolean NOT NULL DEFAULT false;

-- What a root cause blocks, found without scanning the minor wave: resolving one of 3,000
-- root causes of a 100,000-package minor wave looks its dependents up here.
CREATE INDEX package_results_blocked_by ON package_results USING gin (blocked_by) WHERE status = 'dependency-failed';
