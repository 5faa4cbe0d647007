"""Forms for registering, logging in and setting a password."""

from flask import current_app
from wtforms import BooleanField, EmailField, PasswordField, SelectField
from wtforms.validators import Email, InputRequired, Length, ValidationError
from zxcvbn import zxcvbn

from . import BaseForm, NameField, time_zone_choices

PASSWORD_MIN = 12
PASSWORD_MAX = 256
#: zxcvbn refuses longer input; a long password is judged by its start.
ZXCVBN_MAX = 72


def email_field(label="Email"):
    return EmailField(
        label,
        validators=[
            InputRequired("Please enter your email address."),
            Length(max=254),
            Email("That doesn't look like an email address."),
        ],
        filters=[lambda v: v.strip() if v else v],
        render_kw={"autocomplete": "email"},
    )


def display_name_field():
    return NameField(
        "Your name, as your partners will see it",
        validators=[
            InputRequired("Please tell us what to call you."),
            Length(max=80, message="Please keep your name under 80 characters."),
        ],
        filters=[lambda v: v.strip() if v else v],
        render_kw={"autocomplete": "nickname"},
    )


def time_zone_field(label="Your time zone", description="Times are shown to you in this zone."):
    return SelectField(
        label,
        choices=time_zone_choices,
        default="UTC",
        validate_choice=True,
        description=description,
    )


def new_password_field(label="Password"):
    return PasswordField(
        label,
        validators=[
            InputRequired("Please choose a password."),
            Length(
                min=PASSWORD_MIN,
                max=PASSWORD_MAX,
                message=f"Please use {PASSWORD_MIN} to {PASSWORD_MAX} characters.",
            ),
        ],
        description=(
            f"At least {PASSWORD_MIN} characters. A few unrelated words make a "
            "strong password that is easy to remember."
        ),
        render_kw={"autocomplete": "new-password"},
    )


def check_strength(password, user_inputs):
    """Raise ValidationError with zxcvbn's advice when a password is weak."""
    result = zxcvbn(password[:ZXCVBN_MAX], user_inputs=[u for u in user_inputs if u])
    if result["score"] >= current_app.config["PASSWORD_MIN_SCORE"]:
        return
    feedback = result["feedback"]
    advice = [feedback.get("warning") or "This password would be easy to guess."]
    advice += feedback.get("suggestions") or []
    raise ValidationError(" ".join(a.rstrip(".") + "." for a in advice if a))


def remember_field():
    return BooleanField(
        "Remember this device for 30 days",
        description=(
            "So the pause page opens without a password in a hard moment, even offline. "
            "Only on a device that is yours alone."
        ),
    )


class RegisterForm(BaseForm):
    email = email_field()
    display_name = display_name_field()
    password = new_password_field()
    time_zone = time_zone_field()
    remember = remember_field()

    def validate_password(self, field):
        if not field.errors:
            check_strength(field.data, [self.email.data, self.display_name.data])


class LoginForm(BaseForm):
    email = email_field()
    password = PasswordField(
        "Password",
        validators=[InputRequired("Please enter your password."), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = remember_field()


class ResetPasswordForm(BaseForm):
    password = new_password_field("New password")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def validate_password(self, field):
        if not field.errors:
            check_strength(field.data, [self.user.email, self.user.display_name])


class ConfirmForm(BaseForm):
    """A form with nothing but its CSRF token, for one-button actions."""
