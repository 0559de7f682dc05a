from meeting.extensions import db
from meeting.meetings.models import Meeting

from . import factories


def test_published_meeting_is_listed_on_home_page(app, client):
    with app.app_context():
        factories.make_meeting()
        db.session.commit()
        assert db.session.scalar(db.select(db.func.count(Meeting.id))) == 1
    response = client.get("/")
    assert "Audiovisual Performances" in response.get_data(as_text=True)
