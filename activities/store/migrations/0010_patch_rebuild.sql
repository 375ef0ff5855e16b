-- Security patches with the rebuild and duplicate-wave strategies (migration 0006 made the
-- graft path). A covered tag records the strategy it was patched with and what did it:
--
-- * rebuild: the patched package's reverse closure in the covered tag, built by the build
--   engine in a build round of its own, as a queue build is (migration 0007): a waves row
--   with a negative number and state 'patch-build' holding one minor_waves row, which
--   minor_wave_id names.
-- * duplicate-wave: a major wave, started from the covered tag with the fix as its update,
--   re-verifies it with everything a wave does (issues, resolutions, retries); duplicate_wave
--   is its number. Until it finishes, the covered tag is 'unfinished': the fix merged onto it is
--   tagged <tag>-security-K-unfinished (unfinished_tag), which people may pin by name;
--   crest pin answers only tagged security tags.
ALTER TABLE patch_tags
    ADD COLUMN strategy         text NOT NULL DEFAULT '',
    ADD COLUMN minor_wave_id    bigint REFERENCES minor_waves (id),
    ADD COLUMN duplicate_wave   int NOT NULL DEFAULT 0,
    ADD COLUMN unfinished_tag   text NOT NULL DEFAULT '';
ALTER TABLE patch_tags DROP CONSTRAINT patch_tags_state_check;
ALTER TABLE patch_tags ADD CONSTRAINT patch_tags_state_check CHECK (state IN ('running', 'unfinished', 'tagged', 'failed'));
