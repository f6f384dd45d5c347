from epv_common.migrations import run_env
from epv_marketdata.models import SCHEMA, metadata

run_env(metadata, schema=SCHEMA)
