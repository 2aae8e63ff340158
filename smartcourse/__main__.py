from smartcourse.cli import app

app()
