"""billing_quota_release(): give a reserved call back, locking the week row before the month row.

The release was one UPDATE of both counters joined to the call record, which locked the two rows in
whatever order the plan read them: against a reservation of the same player (week row, then month
row; billing_quota_reserve) that could wait crosswise, and PostgreSQL then cancelled one of the two
after deadlock_timeout: a 503 for a question, or a call not given back. Found by a player's
throttled questions arriving together (tests/billing/test_quota.py). Now the record is marked, then
the week row, then the month row, in that order, as the reservation takes them. Returns whether this
call gave the call back (false when the record was already released).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION billing_quota_release(p_record bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    UPDATE billing_callrecord SET released_at = now() WHERE id = p_record AND released_at IS NULL
    RETURNING user_id, week_start, month_start INTO r;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE billing_usagecounter SET used = used - 1, updated_at = now()
    WHERE user_id = r.user_id AND period = 'week' AND period_start = r.week_start AND used > 0;
    UPDATE billing_usagecounter SET used = used - 1, updated_at = now()
    WHERE user_id = r.user_id AND period = 'month' AND period_start = r.month_start AND used > 0;
    RETURN true;
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS billing_quota_release(bigint);"


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_quota_reserve_function")]

    operations = [migrations.RunSQL(CREATE, DROP)]
