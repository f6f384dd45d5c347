from epv_audit.models import SCHEMA, metadata
from epv_common.migrations import run_env

run_env(metadata, schema=SCHEMA)
