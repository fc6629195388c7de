from auditpipe.cli import run

run()
