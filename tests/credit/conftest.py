import pytest


@pytest.fixture(autouse=True)
def store_dirs(settings, tmp_path_factory):
    settings.PLATFORM_SIGNING_KEY_DIR = tmp_path_factory.getbasetemp() / "platform-keys"
    settings.BATCH_STORAGE_DIR = tmp_path_factory.getbasetemp() / "batches"


def _department(code, write, read=None):
    from exchange.services.departments import department_register

    return department_register(code=code, name=code, write=write, read=read or write).obj


ALL = ["registration", "admin_license", "admin_penalty", "red_list", "black_list"]


@pytest.fixture
def scjg(db):
    return _department("HN-SCJG", ["registration", "admin_license", "admin_penalty"], ALL)


@pytest.fixture
def sthj(db):
    return _department("HN-STHJ", ["admin_license", "admin_penalty"], ALL)


@pytest.fixture
def swj(db):
    return _department("HN-SWJ", ["admin_penalty", "red_list", "black_list"], ALL)
