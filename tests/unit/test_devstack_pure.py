import base64
import uuid

from devstack.kafka import new_cluster_id
from devstack.paths import content_key


def test_cluster_id_is_a_uuid_in_22_url_safe_characters():
    cluster_id = new_cluster_id()
    assert len(cluster_id) == 22
    assert uuid.UUID(bytes=base64.urlsafe_b64decode(cluster_id + "=="))


def test_no_cluster_id_starts_with_a_dash_the_storage_tool_would_take_for_an_option():
    # One in 64 random ids would; 2,000 without one fail by chance about once in 10^13.
    assert not [i for i in (new_cluster_id() for _ in range(2000)) if i.startswith("-")]


def test_content_key_changes_with_the_inputs(tmp_path):
    pom = tmp_path / "pom.xml"
    pom.write_text("<a/>")
    first = content_key(pom)
    pom.write_text("<b/>")
    assert content_key(pom) != first
    assert len(first) == 12
