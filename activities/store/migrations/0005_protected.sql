-- Protected packages (in the build closure of a protected root, as the wave's policy names
-- them) are written when a round is laid out, so that policy can refuse to settle them
-- implicitly: a protected dependent of a given-up root cause waits for a person.
ALTER TABLE package_results ADD COLUMN protected boolean NOT NULL DEFAULT false;
