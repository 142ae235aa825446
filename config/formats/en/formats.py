# Operators read due times to the second: the admin shows seconds and the zone (UTC).
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
