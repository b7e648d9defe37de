-- The traits people look a customer up by (their e-mail address, their phone), indexed by
-- their value as a search compares it — trimmed and in lower case — so a search by one
-- does not read every customer's traits (`Store::customers_with_trait`). The expression
-- is the dialect's (`migrate::trait_expr`).
{{trait_indexes}}
