"""The AWS clients come from one botocore session whose loader does not list every service botocore ships
to build one client (adapters/aws/clients.py); what botocore says of known and unknown services stays."""

import botocore.loaders
import pytest
from acmevault.adapters.aws import clients
from botocore.exceptions import UnknownServiceError


@pytest.fixture
def listings(monkeypatch):
    """Every full listing of botocore's services, from a session made after this spy is in place."""
    listed: list[str] = []
    listing = botocore.loaders.Loader.list_available_services

    def spy(self, type_name):
        listed.append(type_name)
        return listing(self, type_name)

    monkeypatch.setattr(botocore.loaders.Loader, "list_available_services", spy)
    clients._session.cache_clear()
    yield listed
    clients._session.cache_clear()


def _client(service):
    return clients._session().create_client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def test_a_client_is_built_without_listing_every_service(listings):
    assert _client("dynamodb").meta.service_model.service_name == "dynamodb"
    assert _client("s3").meta.service_model.service_name == "s3"
    assert listings == []


def test_an_unknown_service_is_refused_naming_the_known_ones(listings):
    with pytest.raises(UnknownServiceError) as refused:
        _client("no-such-service")
    assert "Valid service names are: " in str(refused.value)
    assert "dynamodb" in str(refused.value) and "route53" in str(refused.value)
    assert listings == ["service-2"]


def test_the_known_services_are_still_the_whole_list(listings):
    known = clients._session().get_component("data_loader").list_available_services("service-2")
    assert "s3" in known and "no-such-service" not in known
    assert list(known) == botocore.loaders.Loader().list_available_services("service-2")
    assert len(clients._session().get_available_services()) == len(known)
