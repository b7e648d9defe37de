-- The brand's own websites (origins such as https://zahradka.cz, separated by spaces):
-- the only sites, besides Touchpoint itself, that may show the project's survey pages in
-- a frame (the widget).
ALTER TABLE projects ADD COLUMN site_origins TEXT;
