#!/usr/bin/env python3
"""Python ODMs through the gateway: Beanie's fetch_links and MongoEngine's aggregate with
$lookup, as the ODMs document them (the issue's "Beanie `fetch_links` / MongoEngine aggregate
with `$lookup`").

Beanie (docs/tutorial/relations.md) stores a `Link[...]` as a DBRef and, with
`fetch_links=True`, runs the find as one aggregation whose `$lookup` stages join on the
DBRef's `$id`; MongoEngine's `QuerySet.aggregate` sends the queryset's filter and order as
leading `$match`/`$sort` stages before the pipeline given. The tests assert the documents and
values the ODMs hand back, and that the joins really went through `$lookup`.

Needs beanie and mongoengine (pinned in scripts/ensure_odms.sh).
Run: python3 tests/e2e/test_odm.py --uri "$(cat data/mongodb.uri)"
"""
import asyncio
import functools
import os
import sys
from typing import List

import mongoengine as me
import pymongo
from beanie import BackLink, Document, Link, WriteRules, init_beanie
from bson import DBRef, ObjectId
from pydantic import Field
from pymongo import AsyncMongoClient, monitoring

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402 - tests/harness.py, the runner shared by the suites

URI = os.environ.get("GATEWAY_URI", "")
DB = "e2e_odm"
ALIAS = "e2e_odm"  # MongoEngine's connection alias for the suite's models
_clients = []


def db():
    if not _clients:
        _clients.append(pymongo.MongoClient(URI, serverSelectionTimeoutMS=10000))
    return _clients[0][DB]


class Pipelines(monitoring.CommandListener):
    """Records the pipeline of every aggregate command, to check the ODM joined with $lookup."""

    def __init__(self):
        self.sent = []

    def started(self, event):
        if event.command_name == "aggregate":
            self.sent.append(event.command["pipeline"])

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def stages(self):
        return [next(iter(stage)) for pipeline in self.sent for stage in pipeline]


# ------------------------------------------------------------------ Beanie models


class Customer(Document):
    name: str
    city: str

    class Settings:
        name = "beanie_customers"


class Product(Document):
    sku: str
    price: int

    class Settings:
        name = "beanie_products"


class Order(Document):
    number: int
    customer: Link[Customer]
    items: List[Link[Product]]

    class Settings:
        name = "beanie_orders"


class Team(Document):
    name: str
    # Virtual: Beanie fills it with a $lookup on Player.team's DBRef $id.
    players: List[BackLink["Player"]] = Field(default=[], json_schema_extra={"original_field": "team"})

    class Settings:
        name = "beanie_teams"


class Player(Document):
    name: str
    team: Link[Team]

    class Settings:
        name = "beanie_players"


BEANIE_MODELS = [Customer, Product, Order, Team, Player]


def beanie_test(fn):
    """Turns the coroutine `fn(pipelines)` into a plain test: it runs in its own event loop
    with Beanie initialised on a fresh AsyncMongoClient whose aggregate pipelines are recorded
    (a client belongs to the loop that made it)."""

    @functools.wraps(fn)
    def test():
        async def body():
            pipelines = Pipelines()
            client = AsyncMongoClient(URI, serverSelectionTimeoutMS=10000, event_listeners=[pipelines])
            try:
                await init_beanie(database=client[DB], document_models=BEANIE_MODELS)
                await fn(pipelines)
            finally:
                await client.close()

        asyncio.run(body())

    del test.__wrapped__  # pytest would read fn's signature and look for a `pipelines` fixture
    return test


async def seed_shop():
    """Three customers, three products and four orders linking them; returns them by name."""
    for model in (Order, Customer, Product):
        await model.delete_all()
    people = {}
    for name, city in [("Ada", "London"), ("Grace", "New York"), ("Linus", "Helsinki")]:
        people[name] = await Customer(name=name, city=city).insert()
    products = {}
    for sku, price in [("pen", 2), ("ink", 5), ("paper", 3)]:
        products[sku] = await Product(sku=sku, price=price).insert()
    orders = {}
    for number, who, skus in [(1, "Ada", ["pen", "ink"]), (2, "Grace", ["paper"]),
                              (3, "Ada", ["paper", "pen", "ink"]), (4, "Linus", [])]:
        orders[number] = await Order(number=number, customer=people[who],
                                     items=[products[s] for s in skus]).insert()
    return people, products, orders


def skus(order):
    # A $lookup's `as` array follows the foreign collection, not the localField array.
    return sorted(p.sku for p in order.items)


@beanie_test
async def test_beanie_links_are_stored_as_dbrefs(pipelines):
    """Beanie stores a Link as a DBRef to the linked collection (Document.to_ref), a list of
    links as an array of them; without fetch_links a find returns Link objects, unfetched."""
    people, products, orders = await seed_shop()
    raw = db()["beanie_orders"].find_one({"number": 1})
    assert raw["customer"] == DBRef("beanie_customers", people["Ada"].id), raw
    assert raw["items"] == [DBRef("beanie_products", products["pen"].id),
                            DBRef("beanie_products", products["ink"].id)], raw
    order = await Order.find_one(Order.number == 1)
    assert isinstance(order.customer, Link) and order.customer.ref.id == people["Ada"].id, order
    assert all(isinstance(item, Link) for item in order.items), order
    assert pipelines.sent == [], pipelines.sent  # a plain find, no aggregation


@beanie_test
async def test_beanie_find_fetch_links(pipelines):
    """relations.md, Prefetch: `find(..., fetch_links=True)` fetches the linked documents in a
    single aggregation: the Link field holds the Customer, the list field the Products."""
    people, products, orders = await seed_shop()
    found = await Order.find(fetch_links=True).sort(+Order.number).to_list()
    assert [o.number for o in found] == [1, 2, 3, 4], found
    assert all(isinstance(o.customer, Customer) for o in found), found
    assert [(o.customer.name, o.customer.city) for o in found] == [
        ("Ada", "London"), ("Grace", "New York"), ("Ada", "London"), ("Linus", "Helsinki")]
    assert found[0].customer.id == people["Ada"].id
    assert all(isinstance(p, Product) for o in found for p in o.items), found
    assert [skus(o) for o in found] == [["ink", "pen"], ["paper"], ["ink", "paper", "pen"], []]
    assert {p.sku: p.price for p in found[2].items} == {"pen": 2, "ink": 5, "paper": 3}
    assert pipelines.stages().count("$lookup") == 2, pipelines.sent  # one per link field


@beanie_test
async def test_beanie_find_one_and_get_fetch_links(pipelines):
    """relations.md, Prefetch: fetch_links is supported by `find`, `find_one` and `get`."""
    people, products, orders = await seed_shop()
    one = await Order.find_one(Order.number == 3, fetch_links=True)
    assert one is not None and one.customer.name == "Ada" and skus(one) == ["ink", "paper", "pen"], one
    got = await Order.get(orders[2].id, fetch_links=True)
    assert got is not None and got.customer.city == "New York", got
    assert [(p.sku, p.price) for p in got.items] == [("paper", 3)], got
    assert await Order.get(ObjectId(), fetch_links=True) is None
    assert "$lookup" in pipelines.stages(), pipelines.sent


@beanie_test
async def test_beanie_search_by_linked_fields(pipelines):
    """relations.md, Search by linked documents fields: with fetch_links a filter can name a
    field of the linked document (`Order.customer.name == ...`) or of a list of links
    (`Order.items.price > ...`); count() runs the same aggregation."""
    await seed_shop()
    by_name = await Order.find(Order.customer.name == "Ada", fetch_links=True).sort(+Order.number).to_list()
    assert [o.number for o in by_name] == [1, 3], by_name
    assert all(o.customer.name == "Ada" for o in by_name), by_name
    by_item = await Order.find(Order.items.sku == "paper", fetch_links=True).sort(+Order.number).to_list()
    assert [o.number for o in by_item] == [2, 3], by_item
    by_price = await Order.find(Order.items.price > 4, fetch_links=True).sort(-Order.number).to_list()
    assert [o.number for o in by_price] == [3, 1], by_price
    both = await Order.find(Order.customer.city == "London", Order.items.sku == "paper",
                            fetch_links=True).to_list()
    assert [o.number for o in both] == [3], both
    assert await Order.find(Order.customer.city == "London", fetch_links=True).count() == 2
    assert await Order.find(Order.customer.city == "Paris", fetch_links=True).count() == 0
    # The filter on a linked field comes after the joins, as a $match on the fetched field.
    stages = pipelines.sent[0]
    names = [next(iter(s)) for s in stages]
    assert names.index("$lookup") < stages.index({"$match": {"customer.name": "Ada"}}), stages


@beanie_test
async def test_beanie_search_by_link_id(pipelines):
    """relations.md: a search by the id of the linked document (`Order.customer.id == ...`)
    works the same with fetch_links True and False (a match on the DBRef's $id)."""
    people, products, orders = await seed_shop()
    plain = await Order.find(Order.customer.id == people["Ada"].id).sort(+Order.number).to_list()
    assert [o.number for o in plain] == [1, 3], plain
    fetched = await Order.find(Order.customer.id == people["Ada"].id, fetch_links=True).sort(+Order.number).to_list()
    assert [o.number for o in fetched] == [1, 3], fetched
    assert all(isinstance(o.customer, Customer) and o.customer.name == "Ada" for o in fetched), fetched


@beanie_test
async def test_beanie_missing_linked_documents(pipelines):
    """relations.md, Prefetch: a direct link to a non-existent document stays a Link after
    fetching, and a list of links ignores the non-existent documents."""
    people, products, orders = await seed_shop()
    ghost = await Customer(name="Ghost", city="Nowhere").insert()
    gone = await Product(sku="gone", price=1).insert()
    await Order(number=5, customer=ghost, items=[products["pen"], gone]).insert()
    await ghost.delete()
    await gone.delete()
    order = await Order.find_one(Order.number == 5, fetch_links=True)
    assert order is not None, "order 5 not found"
    assert isinstance(order.customer, Link) and order.customer.ref.id == ghost.id, order.customer
    assert [(p.sku, p.price) for p in order.items] == [("pen", 2)], order.items


@beanie_test
async def test_beanie_fetch_link_and_fetch_all_links(pipelines):
    """relations.md, On-demand fetch: on a document found without prefetching,
    `fetch_link(Order.customer)` replaces that Link with the Customer, and `fetch_all_links()`
    replaces every Link, the list's included."""
    people, products, orders = await seed_shop()
    order = await Order.find_one(Order.number == 1)
    assert isinstance(order.customer, Link), order
    await order.fetch_link(Order.customer)
    assert isinstance(order.customer, Customer) and (order.customer.name, order.customer.city) == ("Ada", "London")
    assert all(isinstance(item, Link) for item in order.items), order.items
    other = await Order.find_one(Order.number == 3)
    await other.fetch_all_links()
    assert isinstance(other.customer, Customer) and other.customer.name == "Ada", other.customer
    assert all(isinstance(p, Product) for p in other.items) and skus(other) == ["ink", "paper", "pen"], other.items
    # A single Link fetches on its own too.
    link = (await Order.find_one(Order.number == 2)).customer
    assert (await link.fetch()).name == "Grace"


@beanie_test
async def test_beanie_write_rule_and_back_links(pipelines):
    """relations.md: `insert(link_rule=WriteRules.WRITE)` inserts the linked documents too; a
    BackLink is virtual and filled only by a find with fetch_links ($lookup on the other
    collection's DBRef $id)."""
    for model in (Player, Team):
        await model.delete_all()
    reds, blues = Team(name="reds"), Team(name="blues")
    await Player(name="ann", team=reds).insert(link_rule=WriteRules.WRITE)
    await Player(name="bob", team=reds).insert(link_rule=WriteRules.WRITE)
    await Player(name="cy", team=blues).insert(link_rule=WriteRules.WRITE)
    assert sorted(t.name for t in await Team.find_all().to_list()) == ["blues", "reds"]
    teams = await Team.find(fetch_links=True).sort(+Team.name).to_list()
    assert [t.name for t in teams] == ["blues", "reds"], teams
    assert [sorted(p.name for p in t.players) for t in teams] == [["cy"], ["ann", "bob"]], teams
    reds_only = await Team.find(Team.players.name == "bob", fetch_links=True).to_list()
    assert [t.name for t in reds_only] == ["reds"], reds_only
    players = await Player.find(Player.team.name == "reds", fetch_links=True).sort(+Player.name).to_list()
    assert [(p.name, p.team.name) for p in players] == [("ann", "reds"), ("bob", "reds")], players


# ------------------------------------------------------------------ MongoEngine models


class Author(me.Document):
    name = me.StringField(required=True)
    country = me.StringField()
    meta = {"collection": "me_authors", "db_alias": ALIAS}


class Book(me.Document):
    title = me.StringField(required=True)
    author = me.ReferenceField(Author)  # stored as the author's ObjectId (dbref=False)
    editor = me.ReferenceField(Author, dbref=True)  # stored as a DBRef
    price = me.IntField()
    copies = me.IntField()
    meta = {"collection": "me_books", "db_alias": ALIAS}


def mongoengine_library():
    """Connects MongoEngine (once) and stores three authors and five books; returns the authors."""
    # connect() again with the same settings returns the alias's existing connection.
    me.connect(db=DB, host=URI, alias=ALIAS, serverSelectionTimeoutMS=10000, uuidRepresentation="standard")
    Book.drop_collection()
    Author.drop_collection()
    authors = {name: Author(name=name, country=country).save()
               for name, country in [("Le Guin", "US"), ("Lem", "PL"), ("Tolstoy", "RU")]}
    for title, author, editor, price, copies in [
        ("The Dispossessed", "Le Guin", "Lem", 12, 3),
        ("Earthsea", "Le Guin", "Lem", 9, 5),
        ("Solaris", "Lem", "Le Guin", 11, 4),
        ("The Cyberiad", "Lem", "Le Guin", 8, 2),
        ("Anonymous", None, None, 5, 1),
    ]:
        Book(title=title, author=authors.get(author), editor=authors.get(editor), price=price, copies=copies).save()
    return authors


def books_lookup(local="author"):
    return {"$lookup": {"from": Author._get_collection_name(), "localField": local,
                        "foreignField": "_id", "as": "author_doc"}}


def test_mongoengine_reference_field_storage():
    """MongoEngine's ReferenceField stores the referenced document's ObjectId (a DBRef with
    dbref=True) and dereferences it on access."""
    authors = mongoengine_library()
    raw = db()["me_books"].find_one({"title": "Solaris"})
    assert raw["author"] == authors["Lem"].id and isinstance(raw["author"], ObjectId), raw
    assert raw["editor"] == DBRef("me_authors", authors["Le Guin"].id), raw
    book = Book.objects.get(title="Solaris")
    assert (book.author.name, book.editor.name) == ("Lem", "Le Guin"), book.to_mongo()


def test_mongoengine_aggregate_lookup():
    """MongoEngine's QuerySet.aggregate runs the queryset's filter and order as leading
    $match/$sort stages, then the pipeline; $lookup (manual: equality match) gives each book
    the array of authors whose _id equals its author field, empty when there is none."""
    mongoengine_library()
    # The queryset's filter (price >= 9) and order come first, then the join.
    joined = list(Book.objects(price__gte=9).order_by("title").aggregate([
        books_lookup(),
        {"$project": {"_id": 0, "title": 1, "authors": "$author_doc.name", "country": "$author_doc.country"}},
    ]))
    assert joined == [
        {"title": "Earthsea", "authors": ["Le Guin"], "country": ["US"]},
        {"title": "Solaris", "authors": ["Lem"], "country": ["PL"]},
        {"title": "The Dispossessed", "authors": ["Le Guin"], "country": ["US"]},
    ], joined
    # A book without an author joins nothing (its missing field matches no _id).
    alone = list(Book.objects(title="Anonymous").aggregate([books_lookup(), {"$project": {"_id": 0, "author_doc": 1}}]))
    assert alone == [{"author_doc": []}], alone
    # The other way round: each author with the titles of their books, sorted in the pipeline.
    per_author = list(Author.objects.order_by("name").aggregate([
        {"$lookup": {"from": Book._get_collection_name(), "localField": "_id", "foreignField": "author",
                     "pipeline": [{"$sort": {"title": 1}}, {"$project": {"_id": 0, "title": 1}}], "as": "books"}},
        {"$project": {"_id": 0, "name": 1, "titles": "$books.title"}},
    ]))
    assert per_author == [
        {"name": "Le Guin", "titles": ["Earthsea", "The Dispossessed"]},
        {"name": "Lem", "titles": ["Solaris", "The Cyberiad"]},
        {"name": "Tolstoy", "titles": []},
    ], per_author


def test_mongoengine_aggregate_lookup_on_dbref():
    """A ReferenceField(dbref=True) holds a DBRef, so the join names its `$id` (manual,
    Database References: `$id` holds the referenced document's _id, `$ref` its collection);
    mongod's field paths accept the DBRef names $id, $ref and $db."""
    mongoengine_library()
    edited = list(Book.objects(author__ne=None).order_by("title").aggregate([
        books_lookup("editor.$id"),
        {"$project": {"_id": 0, "title": 1, "editor": {"$first": "$author_doc.name"}, "ref": "$editor.$ref"}},
    ]))
    assert edited == [
        {"title": "Earthsea", "editor": "Lem", "ref": "me_authors"},
        {"title": "Solaris", "editor": "Le Guin", "ref": "me_authors"},
        {"title": "The Cyberiad", "editor": "Le Guin", "ref": "me_authors"},
        {"title": "The Dispossessed", "editor": "Lem", "ref": "me_authors"},
    ], edited


def test_mongoengine_lookup_unwind_group():
    """$lookup + $unwind + $group through QuerySet.aggregate: per author country, the number
    of books, copies and the revenue (price * copies) summed over the joined documents;
    $unwind drops the book without an author unless preserveNullAndEmptyArrays."""
    mongoengine_library()
    totals = list(Book.objects.aggregate([
        books_lookup(),
        {"$unwind": "$author_doc"},
        {"$group": {"_id": "$author_doc.name", "books": {"$sum": 1}, "copies": {"$sum": "$copies"},
                    "revenue": {"$sum": {"$multiply": ["$price", "$copies"]}}}},
        {"$sort": {"_id": 1}},
    ]))
    assert totals == [
        {"_id": "Le Guin", "books": 2, "copies": 8, "revenue": 12 * 3 + 9 * 5},
        {"_id": "Lem", "books": 2, "copies": 6, "revenue": 11 * 4 + 8 * 2},
    ], totals
    # Keeping the unmatched book groups it under a missing name (null).
    kept = list(Book.objects(price__lt=10).aggregate([
        books_lookup(),
        {"$unwind": {"path": "$author_doc", "preserveNullAndEmptyArrays": True}},
        {"$group": {"_id": "$author_doc.country", "titles": {"$push": "$title"}, "value": {"$sum": "$price"}}},
        {"$sort": {"_id": 1}},
    ]))
    assert kept == [
        {"_id": None, "titles": ["Anonymous"], "value": 5},
        {"_id": "PL", "titles": ["The Cyberiad"], "value": 8},
        {"_id": "US", "titles": ["Earthsea"], "value": 9},
    ], kept
    # One grand total across the join, filtered on a joined field.
    grand = list(Book.objects.aggregate([
        books_lookup(),
        {"$unwind": "$author_doc"},
        {"$match": {"author_doc.country": {"$in": ["US", "PL"]}}},
        {"$group": {"_id": None, "revenue": {"$sum": {"$multiply": ["$price", "$copies"]}}, "n": {"$sum": 1}}},
    ]))
    assert grand == [{"_id": None, "revenue": 36 + 45 + 44 + 16, "n": 4}], grand


def cleanup():
    try:
        me.disconnect(alias=ALIAS)
    except Exception as e:  # noqa: BLE001 - a failed disconnect must not hide the drop
        print(f"mongoengine disconnect failed: {e}", file=sys.stderr)
    harness.drop_and_close(URI, DB, _clients)


if __name__ == "__main__":
    sys.exit(harness.main(sys.argv[1:], globals(), title="ODMs",
                          ping=lambda: db().client.admin.command("ping"), cleanup=cleanup))
