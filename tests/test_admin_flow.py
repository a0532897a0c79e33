"""Flow review: the diagram, the outline in a chosen language, problems and the live version."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from ivr.admin import diagram, review
from ivr.services import services
from tests.helpers.admin import signed_in

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def web(app):
    return signed_in(app, "ada")


def test_outline_lists_every_node_with_its_prompts_and_keys(web, flow):
    page = web.get("/admin/flow").get_data(as_text=True)
    for nid in flow.nodes:
        assert f'id="node-{nid}"' in page
    # Texts are shown with numbers in their published groups, in the default language.
    assert "The number is 0808 2000 247. Again: 0808 2000 247." in page
    assert "To hear how to report trafficking, press 3." in page
    option = r'Key 1 \(“<span lang="en-GB">To hear what to do if you are in danger, press 1.</span>”\):'
    assert re.search(option + r'\s*goes to <a href="#node-danger">danger</a>', page)
    assert "Dials Refuge, National Domestic Abuse Helpline on 0808 2000 247 (+448082000247)." in page
    assert "If nobody answers (busy, no answer, failed)" in page


def test_outline_is_nested_lists_in_the_order_a_caller_meets_them(web, flow):
    page = web.get("/admin/flow").get_data(as_text=True)
    outline = page[page.index('<ol class="outline"') :]
    ids = re.findall(r'<li id="node-([a-z_]+)"', outline)
    assert ids == diagram.order(flow)
    assert ids[0] == flow.start
    assert outline.count('<ol class="says">') == sum(1 for n in flow.nodes.values() if n.say)


def test_version_and_no_problems(web, app):
    page = web.get("/admin/flow").get_data(as_text=True)
    version = services(app).live.current().flow.version
    assert f'<code id="flow-version">{version}</code>' in page
    assert "No problems" in page


def test_problems_of_a_refused_edit_are_listed_while_the_old_version_serves(web, app, prompts_dir):
    live = services(app).live
    version = live.current().flow.version
    flow_file = prompts_dir / "flow.yaml"
    flow_file.write_text(flow_file.read_text().replace("goto: learn_orders", "goto: nowhere_at_all"))
    assert live.reload()
    page = web.get("/admin/flow").get_data(as_text=True)
    assert "leads to unknown node &#39;nowhere_at_all&#39;" in page
    assert f'<code id="flow-version">{version}</code>' in page


def test_prompt_texts_are_escaped(web, app, prompts_dir):
    catalogue = prompts_dir / "en-GB.yaml"
    text = catalogue.read_text().replace(
        "main_menu_intro: Main menu.", "main_menu_intro: 'Main menu <script>alert(1)</script> & more.'"
    )
    catalogue.write_text(text)
    assert services(app).live.reload() == []
    page = web.get("/admin/flow").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "Main menu &lt;script&gt;alert(1)&lt;/script&gt; &amp; more." in page


def test_an_unknown_language_falls_back_to_the_default(web):
    page = web.get("/admin/flow?lang=xx-XX").get_data(as_text=True)
    assert '<option value="en-GB" selected>' in page


def test_diagram_is_valid_svg_with_every_node_and_labelled_edges(web, flow):
    response = web.get("/admin/flow.svg")
    assert response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == f"{SVG}svg"
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("node ")}
    assert set(groups) == {f"svg-{nid}" for nid in flow.nodes}
    for nid, node in flow.nodes.items():
        assert f"kind-{node.kind}" in groups[f"svg-{nid}"].get("class")
    labels = {(g.get("data-from"), g.get("data-to"), g.find(f"{SVG}text").text) for g in root.iter(f"{SVG}g")
              if g.get("class") == "edge"}  # fmt: skip
    assert ("main_menu", "danger", "key 1") in labels
    assert ("greeting", flow.nodes[flow.start].next, "then") in labels
    assert ("refuge_transfer", "goodbye", "answered") in labels
    assert ("refuge_transfer", "main_menu", "not answered → main_menu") in labels
    assert ("danger", "main_menu", "key 2 → main_menu") in labels
    assert len(labels) == len(diagram.edges(flow))
    transfer_title = groups["svg-refuge_transfer"].find(f"{SVG}title").text
    assert transfer_title == "refuge_transfer: transfer to Refuge"


def test_diagram_puts_nodes_in_columns_by_distance_and_never_overlaps(flow):
    places = diagram.layout(flow)
    assert places[flow.start][0] < places["main_menu"][0] < places["help_menu"][0]
    assert len(set(places.values())) == len(places)


def test_readable_marks_a_missing_text(flow):
    assert review.readable(flow, "no_such_prompt", "en-GB") == "(no text for no_such_prompt in en-GB)"
