"""SMS gateways behind one interface (`base.SmsGateway`): Kavenegar and Twilio.

`GATEWAYS` is the registry by name (the `gateway` of credentials.yml and the webhook
paths): a gateway is added by importing its class here.
"""

from typing import Dict, Type

from bot.channels.sms_gateways.base import GatewayError, SendResult, SmsGateway, segment_info  # noqa: F401
from bot.channels.sms_gateways.kavenegar import KavenegarGateway
from bot.channels.sms_gateways.twilio import TwilioGateway

GATEWAYS: Dict[str, Type[SmsGateway]] = {gateway.name: gateway for gateway in (KavenegarGateway, TwilioGateway)}

__all__ = ["GATEWAYS", "GatewayError", "KavenegarGateway", "SendResult", "SmsGateway", "TwilioGateway", "segment_info"]
