"""billing_quota_reserve(): a reservation (both counters and the call record) in one statement.

The same INSERT ... ON CONFLICT DO UPDATE ... WHERE used < limit as before, week row first and
month row second (two reservations of one user never wait on each other crosswise), now inside
one function call: one round trip to PostgreSQL instead of BEGIN, three statements and COMMIT.
Returns (used, record_id), or (NULL, NULL) when the plan's period has no call left, in which case
nothing changed.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION billing_quota_reserve(
    p_user bigint, p_plan varchar, p_period varchar, p_limit integer, p_week date, p_month date,
    OUT used integer, OUT record_id bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_week integer;
    v_month integer;
BEGIN
    INSERT INTO billing_usagecounter AS c (user_id, period, period_start, used, updated_at)
    VALUES (p_user, 'week', p_week, 1, now())
    ON CONFLICT (user_id, period, period_start)
    DO UPDATE SET used = c.used + 1, updated_at = now() WHERE p_period <> 'week' OR c.used < p_limit
    RETURNING c.used INTO v_week;
    IF v_week IS NULL THEN
        RETURN;  -- the weekly limit: nothing was changed
    END IF;
    INSERT INTO billing_usagecounter AS c (user_id, period, period_start, used, updated_at)
    VALUES (p_user, 'month', p_month, 1, now())
    ON CONFLICT (user_id, period, period_start)
    DO UPDATE SET used = c.used + 1, updated_at = now() WHERE p_period <> 'month' OR c.used < p_limit
    RETURNING c.used INTO v_month;
    IF v_month IS NULL THEN  -- the monthly limit: take back this week's count (same transaction)
        UPDATE billing_usagecounter SET used = billing_usagecounter.used - 1
        WHERE user_id = p_user AND period = 'week' AND period_start = p_week;
        RETURN;
    END IF;
    INSERT INTO billing_callrecord (user_id, plan, week_start, month_start, created_at)
    VALUES (p_user, p_plan, p_week, p_month, now())
    RETURNING id INTO record_id;
    used := CASE WHEN p_period = 'week' THEN v_week ELSE v_month END;
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS billing_quota_reserve(bigint, varchar, varchar, integer, date, date);"


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_plan_overrides")]

    operations = [migrations.RunSQL(CREATE, DROP)]
