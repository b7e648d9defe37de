-- A project's brand on its survey pages: the name and logo in the header, the colour of
-- buttons, progress and chosen answers (#rrggbb), the privacy page linked in the footer
-- (https URLs), and the language pages open in when the respondent asks for none the
-- survey has (en, cs or pl). Every one may be missing.
ALTER TABLE projects ADD COLUMN brand_name TEXT;
ALTER TABLE projects ADD COLUMN brand_color TEXT;
ALTER TABLE projects ADD COLUMN brand_logo_url TEXT;
ALTER TABLE projects ADD COLUMN privacy_url TEXT;
ALTER TABLE projects ADD COLUMN default_lang TEXT;
