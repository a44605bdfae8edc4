import sys

from pg_tenants.local.command_line import main

sys.exit(main())
