"""Forms for registering, logging in and setting a password."""

import math

from flask import current_app
from wtforms import BooleanField, EmailField, PasswordField, SelectField
from wtforms.validators import Email, InputRequired, Length, ValidationError
from zxcvbn import zxcvbn
from zxcvbn.matching import L33T_TABLE, enumerate_l33t_subs, relevant_l33t_subtable
from zxcvbn.time_estimates import guesses_to_score

from . import BaseForm, NameField, canonical_time_zone, time_zone_choices

PASSWORD_MIN = 12
PASSWORD_MAX = 256
#: zxcvbn's work grows with the square of the length it reads, times the
#: number of ways it tries to read look-alikes back as letters ("@" as "a",
#: "1" as "i" or "l"): 72 characters of symbols cost it seconds. So it reads
#: only the first ESTIMATE_LENGTH characters, in pieces of at most
#: PIECE_READINGS such ways each, which keeps every password to a few tens of
#: milliseconds (zxcvbn's own advice is to truncate long input).
ESTIMATE_LENGTH = 32
PIECE_READINGS = 16
LOOKALIKES = frozenset(c for subs in L33T_TABLE.values() for c in subs)


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
        # An alias (an older choice, or what a browser reports) reads as its zone.
        filters=[canonical_time_zone],
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


def _readings(lookalikes):
    return len(enumerate_l33t_subs(relevant_l33t_subtable("".join(lookalikes), L33T_TABLE)))


def estimate_pieces(text):
    """Cut text into the fewest pieces with at most PIECE_READINGS readings each."""
    pieces, start, lookalikes = [], 0, set()
    for end, char in enumerate(text):
        if char in LOOKALIKES and char not in lookalikes:
            if _readings(lookalikes | {char}) > PIECE_READINGS:
                pieces.append(text[start:end])
                start, lookalikes = end, set()
            lookalikes.add(char)
    return [*pieces, text[start:]] if text else []


def estimate_strength(password, user_inputs):
    """Return (score, feedback) from zxcvbn, at a bounded cost.

    The pieces of the first ESTIMATE_LENGTH characters are judged one after
    the other, each knowing the ones before (a repeat stays cheap), and their
    guesses multiply. The characters beyond count as zxcvbn counts a repeat:
    twice the length, twice the guesses.
    """
    read = password[:ESTIMATE_LENGTH]
    inputs = [u for u in user_inputs if u]
    results = []
    for piece in estimate_pieces(read):
        results.append(zxcvbn(piece, user_inputs=inputs))
        inputs.append(piece)
    if not results:
        return 0, {}
    if len(results) == 1 and read == password:
        return results[0]["score"], results[0]["feedback"]
    log_guesses = sum(math.log10(r["guesses"]) for r in results)
    log_guesses += math.log10(len(password) / len(read))
    weakest = min(results, key=lambda r: r["guesses"])
    return guesses_to_score(10 ** min(log_guesses, 300)), weakest["feedback"]


def check_strength(password, user_inputs):
    """Raise ValidationError with zxcvbn's advice when a password is weak."""
    score, feedback = estimate_strength(password, user_inputs)
    if score >= current_app.config["PASSWORD_MIN_SCORE"]:
        return
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


class ForgotPasswordForm(BaseForm):
    email = email_field("The email of your account")


class ConfirmRegistrationForm(BaseForm):
    """The link in the email was opened: create the account on this device."""

    remember = remember_field()


class ConfirmForm(BaseForm):
    """A form with nothing but its CSRF token, for one-button actions."""
