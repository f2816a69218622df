# The two commands a newcomer needs: `make run` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test test-fast lint format package deploy bench-cost

$(INSTALLED): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed" or 0)'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

run: $(INSTALLED)
	$(BIN)/python -m local.stack

# Every test: unit, integration, e2e and deploy (CI runs this). The markers are set by
# tests/conftest.py from where a test lives; `pytest -m integration` and so on pick one.
test: $(INSTALLED)
	$(BIN)/python -m pytest

# The unit layer alone: tests/unit/ and the files of pure code. No moto, no emulator, no
# network; under 20 s.
test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -m unit -q

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app.py chalicelib local tests bench

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# --- Deploy (README, "Deploy") ----------------------------------------------------------
# `make package`: build/sam.json (Chalice's functions merged with infra/resources.json) and
# build/deployment.zip, with no AWS call and no credentials (the region is only a name;
# Chalice fetches Lambda's wheels from PyPI). `make deploy` uploads them with CloudFormation.
DEPLOY_STAGE ?= prod
STACK ?= responsetime
PACKAGE_REGION := $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),us-east-1)

package: $(INSTALLED)
	rm -f build/sam.json build/deployment.zip build/packaged.json
	@# Chalice zips chalicelib/ whole and caches the zip by a hash of it: no bytecode.
	find chalicelib -name __pycache__ -type d -prune -exec rm -rf {} +
	AWS_DEFAULT_REGION=$(PACKAGE_REGION) $(BIN)/chalice package --stage $(DEPLOY_STAGE) \
		--merge-template infra/resources.json build/
	@# One cached zip per version of the code: keep the three newest.
	@ls -t .chalice/deployments/*.zip 2>/dev/null | tail -n +4 | xargs -r rm -f
	@ls -l build/sam.json build/deployment.zip

# DEPLOY_BUCKET: an S3 bucket of yours that holds the uploaded code. PUBLIC_URL, given on
# the command line, sets the stack's PublicUrl (a custom domain); left out, it keeps its value.
# PARAMETERS: more of the template's parameters, "Name=value Name=value" (README, Deploy).
OVERRIDES = $(strip $(if $(filter command line,$(origin PUBLIC_URL)),PublicUrl=$(PUBLIC_URL)) $(PARAMETERS))
deploy: package
	@test -n "$(DEPLOY_BUCKET)" || { echo "usage: make deploy DEPLOY_BUCKET=<an S3 bucket of yours> [STACK=responsetime] [PUBLIC_URL=https://...]" >&2; exit 2; }
	aws cloudformation package --template-file build/sam.json --s3-bucket $(DEPLOY_BUCKET) \
		--s3-prefix $(STACK) --use-json --output-template-file build/packaged.json
	aws cloudformation deploy --template-file build/packaged.json --stack-name $(STACK) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
		$(if $(OVERRIDES),--parameter-overrides $(OVERRIDES))
	aws cloudformation describe-stacks --stack-name $(STACK) --query 'Stacks[0].Outputs' --output table

# The monthly cost of 1,000 accounts, from the AWS and X calls counted in one run.
bench-cost: $(INSTALLED)
	$(BIN)/python -m bench.cost

.PHONY: bench
bench: $(INSTALLED)  # benchmarks, not part of `make test`: figures to build/bench.md
	$(BIN)/python -m bench.run
