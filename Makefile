# Two entry points: `make run` (the cloud on the embedded SQLite default) and `make test`
# (the whole suite with lint and type checks). Both install what they need themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBIAN_PACKAGES := pci.ids iproute2 qemu-system-x86 qemu-utils busybox-static genisoimage \
	libvirt-clients libxml2-utils libvirt-dev pkg-config libvirt-daemon libvirt-daemon-driver-qemu \
	chromium chromium-driver
VENDOR := src/passnic/dashboard/static/vendor

.PHONY: run test lint typecheck unit debian guest clean assets

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Debian packages: the pci.ids database (vendor/device names for discovery), iproute2 (the
# lab's namespaces), QEMU and the tools of the guest image and config drive, libvirt's client
# and schemas (virt-xml-validate), what building libvirt-python needs (libvirt-dev,
# pkg-config), libvirtd with its QEMU driver (the lab's real guests; the lab starts it) and
# headless Chromium with its driver (the dashboard's browser tests). Installed only where
# missing and only when we are root.
debian:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) \
	      || echo "warning: could not install$$missing; continuing"; \
	  else echo "note: Debian packages$$missing are not installed"; fi; \
	fi

# The dashboard's JavaScript (htmx, Cytoscape.js): the versions pinned in js/package-lock.json,
# from the npm registry, copied into the package; Passnic serves them itself at run time. npm
# comes from Debian only where no Node.js is installed at all. Without them the APIs still run
# and the dashboard says what is missing.
$(VENDOR)/.installed: js/package.json js/package-lock.json
	command -v npm >/dev/null || $(MAKE) debian DEBIAN_PACKAGES="nodejs npm"
	(cd js && npm ci --no-audit --no-fund --silent) \
	  && mkdir -p $(VENDOR) \
	  && cp js/node_modules/htmx.org/dist/htmx.min.js js/node_modules/cytoscape/dist/cytoscape.min.js $(VENDOR)/ \
	  && touch $@ \
	  || echo "warning: the dashboard's JavaScript could not be installed (make assets retries)"

assets: $(VENDOR)/.installed

$(VENV)/.installed: pyproject.toml $(VENDOR)/.installed | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# The openstack.cloud collection (2.5.0, bundled with the `ansible` of the test extras) reads
# openstack.version, which openstacksdk stopped importing in 4.15; python-openstackclient 10.5
# needs openstacksdk >= 4.21. So the Ansible test runs the collection's modules with an
# openstacksdk 4.14 from a side directory (tests/compute/test_ansible.py), nothing else sees it.
ANSIBLE_SDK := $(VENV)/ansible-openstacksdk

$(VENV)/.installed-test: pyproject.toml $(VENDOR)/.installed | $(BIN)/python debian
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps --upgrade --target $(ANSIBLE_SDK) 'openstacksdk>=4.6,<4.15'
	touch $(VENV)/.installed $@

run: debian $(VENV)/.installed
	$(BIN)/passnic up

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy src/passnic

# Three workers on the machine's two cores (much of the suite waits on subprocesses, servers
# and guests); the lab's tests are one xdist group (tests/lab/conftest.py), run one after
# another on one worker while the other two take the rest.
unit: $(VENV)/.installed-test
	$(BIN)/pytest -q -n 3 --dist loadgroup

# The guest image (Debian's kernel + a busybox initramfs), built once into .cache/guest.
guest: $(VENV)/.installed
	$(BIN)/python -m passnic.image.guest .cache/guest \
	  || echo "warning: the guest image could not be built; the tests that boot it skip"

test: debian lint typecheck guest unit

clean:
	rm -rf $(VENV) build src/*.egg-info js/node_modules $(VENDOR)
