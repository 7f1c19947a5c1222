-- updated_at is kept by the database so that every writer, not only this service, maintains it.
CREATE FUNCTION loans_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER loans_touch_updated_at
BEFORE UPDATE ON loans
FOR EACH ROW
WHEN (OLD.* IS DISTINCT FROM NEW.*)
EXECUTE FUNCTION loans_touch_updated_at();
